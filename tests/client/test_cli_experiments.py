"""``python -m trackerclient experiment``: create an online comparison and post its windows
against the real tracker; the exit code follows the decision (1 when the deployment should
stop), 2 when nothing could be judged."""

import pytest

from evaluations.models import Experiment, ExperimentWindow
from tests.client.test_cli_exit_codes import acme_token
from tests.experiment_bodies import CANARY, canary_window
from trackerclient import cli


@pytest.fixture
def tracker(live_server):
    return ["--url", live_server.url, "--token", acme_token()]


@pytest.mark.django_db(transaction=True)
def test_a_canary_created_and_fed_from_ci_exits_1_on_rollback(tracker, write_json, capsys):
    assert cli.main(["experiment", "create", write_json("canary.json", CANARY), *tracker]) == 0
    experiment = Experiment.objects.get()
    assert f"Experiment {experiment.pk} (canary of fraud-detector)" in capsys.readouterr().out

    codes = []
    for index in range(40):
        window = write_json(f"w{index}.json", canary_window(index, 0.05, error_rate=0.02))
        codes.append(cli.main(["experiment", "window", str(experiment.pk), window, *tracker]))
        if codes[-1] != 0:
            break

    out = capsys.readouterr().out
    assert codes[-1] == 1 and set(codes[:-1]) <= {0}
    assert f"Decision after window w{len(codes) - 1}: rollback" in out
    assert "error_rate" in out and "beyond the allowed" in out
    again = cli.main(["experiment", "window", str(experiment.pk), window, *tracker])
    assert again == 1 and "already posted" in capsys.readouterr().out
    assert ExperimentWindow.objects.count() == len(codes)


@pytest.mark.django_db(transaction=True)
def test_a_bad_window_exits_2_naming_the_field(tracker, write_json, capsys):
    cli.main(["experiment", "create", write_json("canary.json", CANARY), *tracker])
    window = canary_window(0, 0.05)
    window["arms"]["1.4.0"]["n"] = -3

    code = cli.main(["experiment", "window", str(Experiment.objects.get().pk),
                     write_json("w.json", window), *tracker])  # fmt: skip

    assert code == 2
    assert '"arms"' in capsys.readouterr().err
    assert not ExperimentWindow.objects.exists()
