"""Evaluation of the arrangements: did a metric change after places' leaders were confirmed or
their governance adopted, against places that had not (yet)? (docs/evaluation.md)"""
