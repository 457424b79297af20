"""Expected results of the example programs, computed independently with NumPy.

Each function re-implements one example by hand (derivatives written out
analytically or propagated in forward mode), in float64, without gdl.
`python programs/examples/reference.py` prints the `#| expect` line of
each example; tests/test_programs.py checks the headers against it.
"""
from __future__ import annotations

import json

import numpy as np

A = np.array([[0.56, 0.56, -0.62], [-0.01, 0.0, 0.06], [2.18, -0.28, -0.29],
              [-0.46, 1.04, -0.41], [-0.09, 0.88, 0.76], [-0.97, 1.81, 0.28]])
B = np.array([-0.06, 1.25, 1.99, -0.05, -0.24, 1.06])


def least_squares(lr=0.01, steps=40):
    """w <- w - lr * 2 A^T (A w - b); d/dlr carried in forward mode."""
    w, dw = np.zeros(3), np.zeros(3)
    H = 2 * A.T @ A
    for _ in range(steps):
        g = 2 * A.T @ (A @ w - B)
        w, dw = w - lr * g, dw - g - lr * (H @ dw)
    r = A @ w - B
    final = float(r @ r)
    dfinal = float(2 * r @ (A @ dw))
    return {"outputs": {"final": final, "w": w.tolist()}, "grads": {"lr": dfinal}}


X = np.array([[0.5, -1.2, 0.3], [1.5, 0.2, -0.7], [-0.3, 0.8, 1.1], [0.9, -0.4, -1.3],
              [-1.1, -0.6, 0.4], [0.2, 1.3, -0.2]])
LABELS = np.array([0, 1, 2, 1, 0, 2])
W1 = np.array([[0.2, -0.3, 0.1, 0.4], [-0.1, 0.25, 0.3, -0.2], [0.15, 0.1, -0.35, 0.05]])
B1 = np.array([0.01, -0.02, 0.03, 0.0])
W2 = np.array([[0.3, -0.2, 0.1], [-0.25, 0.15, 0.2], [0.1, 0.3, -0.3], [0.2, -0.1, 0.05]])
B2 = np.array([0.0, 0.01, -0.01])


def mlp_loss_and_grads(w1, b1, w2, b2):
    """Softmax cross-entropy of a tanh MLP, with its gradients by hand."""
    n = len(X)
    y = np.eye(3)[LABELS]
    z1 = X @ w1 + b1
    h = np.tanh(z1)
    logits = h @ w2 + b2
    m = logits.max(axis=1, keepdims=True)
    p = np.exp(logits - m)
    p /= p.sum(axis=1, keepdims=True)
    loss = -np.sum(y * np.log(p)) / n
    dlogits = (p - y) / n
    dw2, db2 = h.T @ dlogits, dlogits.sum(0)
    dz1 = (dlogits @ w2.T) * (1 - h * h)
    dw1, db1 = X.T @ dz1, dz1.sum(0)
    return loss, (dw1, db1, dw2, db2)


def mlp(lr=0.5, steps=30):
    params = [W1.copy(), B1.copy(), W2.copy(), B2.copy()]
    for _ in range(steps):
        _, grads = mlp_loss_and_grads(*params)
        params = [p - lr * g for p, g in zip(params, grads)]
    loss, _ = mlp_loss_and_grads(*params)
    first, grads0 = mlp_loss_and_grads(W1, B1, W2, B2)
    return {"outputs": {"first": float(first), "final": float(loss)},
            "grads": {"W2": grads0[2].tolist(), "b1": grads0[1].tolist()}}


def newton(a=1.5, c=(2.0, -1.0, 0.5)):
    """Minimise sum(x^4/4 + a x^2/2 - c x) by Newton; dx*/da by the implicit function."""
    c = np.array(c)
    x = np.zeros(3)
    for _ in range(60):
        g = x ** 3 + a * x - c
        if np.max(np.abs(g)) < 1e-12:
            break
        x = x - g / (3 * x * x + a)
    f = float(np.sum(x ** 4 / 4 + a * x * x / 2 - c * x))
    dx_da = -x / (3 * x * x + a)            # g(x*(a), a) = 0, differentiated in a
    return {"outputs": {"s": float(np.sum(x)), "x": x.tolist(), "fx": f},
            "grads": {"a": float(np.sum(dx_da))}}


def projectile(v0=(12.0, 9.0), k=0.08, g=9.81, dt=0.01):
    """Euler steps with quadratic drag until y < 0; forward-mode d(range)/d(v0)."""
    p, dp = np.zeros(2), np.zeros((2, 2))        # dp[i, j] = d p_i / d v0_j
    v, dv = np.array(v0, float), np.eye(2)
    while p[1] >= 0.0:
        speed = np.sqrt(v @ v)
        dspeed = (v @ dv) / speed
        acc = -k * speed * v + np.array([0.0, -g])
        dacc = -k * (np.outer(v, dspeed) + speed * dv)
        p, dp = p + dt * v, dp + dt * dv
        v, dv = v + dt * acc, dv + dt * dacc
    return {"outputs": {"range": float(p[0])}, "grads": {"v0": dp[0].tolist()}}


EXAMPLES = {"least_squares": least_squares, "mlp": mlp, "newton": newton,
            "projectile": projectile}


if __name__ == "__main__":
    for name, fn in EXAMPLES.items():
        print(f"{name}.gdl:\n#| expect {json.dumps(fn())}")
