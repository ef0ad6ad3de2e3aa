"""The offline tools: ``simreg eval faces`` (:mod:`.faces`), ``simreg eval
liveness`` (:mod:`.liveness`) and ``simreg calibrate`` (:mod:`.calibration`).

The service never imports this package; the CLI loads it inside those commands
only.  Progress bars and plots need the ``eval`` extra (matplotlib, tqdm:
``pip install 'simreg[eval]'``), imported where they are used, so that without
it the commands name the extra instead of failing with a traceback.
"""
