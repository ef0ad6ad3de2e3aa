"""Face model runtimes behind the ports.  Nothing here runs at import time."""
