"""Intake's writes: receiving (``receive``), 事務点検 (``check``), linking corrections
(``resubmissions``) and the clerk's review of warnings (``review``)."""
