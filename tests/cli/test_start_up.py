"""What a run imports before its first cell, in a fresh interpreter."""

import subprocess
import sys


def test_start_up_imports_no_pandas_matplotlib_or_scipy():
    # What a run imports before its cells start is time no worker can overlap (and a one-cell run in
    # this process, or one without a progress bar, never needs joblib or tqdm).
    code = ("import sys, bench.cli, bench.cell, experiments.weight_init_compare\n"
            "print(sorted({'pandas', 'matplotlib', 'scipy', 'sklearn', 'joblib', 'tqdm'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
