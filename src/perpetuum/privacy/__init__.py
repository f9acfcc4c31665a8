"""Privacy beyond the model: personal identifiers found and replaced, filters that drop synthetic rows too close
to a real person, and the ledger of differentially private releases.

    from perpetuum.privacy.pii import detect_pii, PiiReplacer
    from perpetuum.privacy.filters import SimilarityFilter, OutlierFilter, sample_filtered
    from perpetuum.privacy import PrivacyLedger
"""

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
