"""Privacy tools shared by every synthesizer."""

from perpetuum.privacy.ledger import (
    STAGES,
    LedgerEntry,
    PrivacyBudgetError,
    PrivacyLedger,
    epsilon_from_rho,
    rho_from_epsilon,
)

__all__ = [
    "STAGES",
    "LedgerEntry",
    "PrivacyBudgetError",
    "PrivacyLedger",
    "epsilon_from_rho",
    "rho_from_epsilon",
]
