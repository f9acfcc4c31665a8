"""Personal identifiers: find them (`detect_pii`), replace whole columns with fakes (`PiiReplacer`), replace the
identifiers inside free text (`scrub_texts`). `infer_schema` records each verdict in `ColumnSpec.pii`; every
synthesizer then replaces those columns instead of learning them (`perpetuum.tabular.transforms`)."""

from perpetuum.privacy.pii_detect import detect_pii
from perpetuum.privacy.pii_kinds import PiiKind, PiiSpec
from perpetuum.privacy.pii_replace import PiiReplacer
from perpetuum.privacy.pii_text import find_spans, scrub_texts

__all__ = ["PiiKind", "PiiReplacer", "PiiSpec", "detect_pii", "find_spans", "scrub_texts"]
