"""Assessments across areas: league tables of a metric, and the performance of a system."""
