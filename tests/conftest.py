"""Suite-wide settings. The request cache is off by default here: tests count real model calls and compare runs,
and answers from a cache shared between tests would hide what the code does. Tests of the cache turn it on with a
folder of their own."""

import os

os.environ.setdefault("PERPETUUM_CACHE", "0")
