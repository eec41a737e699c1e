"""The exact figures the simulator works in: Decimal constants, precision, a month."""

from __future__ import annotations

from decimal import Decimal

DAYS_PER_MONTH = 30
ZERO = Decimal(0)
ONE = Decimal(1)
HUNDRED = Decimal(100)
PICO = Decimal("1e-12")
SHARE_QUANTUM = Decimal("1e-9")  # shares (0..1) are shown, never summed
PREC = 60  # Decimal digits: shares times costs of billions of tokens stay exact
