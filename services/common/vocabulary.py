"""The domain's words, defined once: what a metric is and how it rolls up, and the statuses a
target's progress can have. Catalogue, schemas and maths all use these."""

from typing import Literal

Kind = Literal["count", "proportion", "rate", "value"]
Direction = Literal["higher_is_better", "lower_is_better", "neutral"]
Aggregation = Literal["sum", "ratio_of_sums", "population_weighted_mean"]
# In API.md's order of precedence (the first that applies is the target's status).
Status = Literal["no_data", "not_assessed", "achieved", "on_track", "at_risk", "off_track"]
