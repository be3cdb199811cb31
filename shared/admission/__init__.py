"""Admission: which queued job is sent next, under the in-flight cap, the rate limits, priority and fair share.

``core.admit`` is the step; ``planning`` chooses; ``priority`` names priorities and ages them; ``views`` says
where a queued job stands and why it waits.
"""

from shared.admission.core import AdmissionReport, admit, admit_quietly
from shared.admission.priority import BULK, INTERACTIVE, PIPELINE, parse_priority, priority_name

__all__ = ["BULK", "INTERACTIVE", "PIPELINE", "AdmissionReport", "admit", "admit_quietly", "parse_priority",
           "priority_name"]
