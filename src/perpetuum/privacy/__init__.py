"""Privacy beyond the model: personal identifiers found and replaced, and filters that drop synthetic rows too close
to a real person.

    from perpetuum.privacy.pii import detect_pii, PiiReplacer
    from perpetuum.privacy.filters import SimilarityFilter, OutlierFilter, sample_filtered
"""
