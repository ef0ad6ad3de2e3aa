"""simreg: real-name SIM registration with face portrait matching.

Importing this package loads no model; models are built by
:func:`simreg.adapters.faces.factory.build_face_engine`.
"""

__version__ = "0.1.0"
