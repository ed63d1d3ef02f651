"""tools/sweep/synthetic.py: the synthetic train function has the shape the literature reports."""

from __future__ import annotations

from rampup.tools.sweep import (
    synthetic_train,
)


def test_synthetic_train_has_the_reported_shape() -> None:
    def loss(w: str, lr: float = 1e-2) -> float:
        return (
            sum(
                synthetic_train(
                    {
                        "spec": f"linear({w}) -> cosine" if w != "0" else "cosine",
                        "total_steps": 1000,
                        "seed": s,
                        "peak_lr": lr,
                    }
                )["loss"]
                for s in range(3)
            )
            / 3
        )

    assert loss("0") > loss("0.5%") + 0.1 > loss("2%") + 0.1  # short warmups spike
    assert loss("20%") > loss("2%")  # long warmups cost updates at low LR
    assert loss("0", 3e-2) - loss("2%", 3e-2) > loss("0", 3e-3) - loss("2%", 3e-3)  # worse at high LR
