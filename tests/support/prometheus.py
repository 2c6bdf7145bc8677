"""Reading a service's /metrics as a test does: one figure out of the exposition text."""

from prometheus_client.parser import text_string_to_metric_families


def counted(text: str, name: str, **labels: str) -> float:
    """The sum of the samples called ``name`` whose labels include ``labels`` (0 if none)."""
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    )
