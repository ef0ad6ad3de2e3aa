"""The use cases: a registration at the counter (``registration``), the citizen's
lookup (``citizen``), the biometric pipeline that shows the order of the stages on
one screen (``pipeline``), and admission to the face engine (``admission``).

They depend on the domain and on the protocols of ``simreg.ports`` only; the
composition root (``simreg.runtime``) hands them adapters.  See
docs/design/architecture.md."""
