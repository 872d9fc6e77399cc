"""What an experiment's run returns: tidy records (step, epoch, metric, value), and divergence."""

import math

COLUMNS = ["step", "epoch", "metric", "value"]


class Diverged(Exception):
    """Raised by Recorder.log on a NaN or infinite value; carries the records made so far."""

    def __init__(self, step, metric, records):
        super().__init__(f"{metric} became non-finite at step {step}")
        self.step, self.metric, self.records = step, metric, records


class Recorder:
    """Collects one cell's records. `log` raises Diverged when a value is NaN or infinite, so a
    blown-up run stops at once and the harness records where."""

    def __init__(self):
        self.rows = []
        self.artifacts = {}

    def save(self, name, obj):
        """Keep an object (a trained model) with the cell: the harness writes it with joblib to
        <run>/artifacts/<cell_id>/<name>.joblib."""
        self.artifacts[name] = obj

    def log(self, metric, value, step, epoch=None):
        value = float(value)
        self.rows.append((int(step), math.nan if epoch is None else float(epoch), metric, value))
        if not math.isfinite(value):
            raise Diverged(step, metric, self)
