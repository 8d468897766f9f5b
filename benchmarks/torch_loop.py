"""The same model and optimizer as a plain PyTorch CPU training loop.

784 -> Linear(512) -> ReLU -> Linear(10), Keras' initialisation (Glorot-uniform
weights, zero biases), RMSprop with Keras' settings (lr 1e-3, rho 0.9, eps 1e-7),
cross-entropy on class ids, 5 epochs of batch 128 reshuffled each epoch, the test
set evaluated after every epoch as the tutorial's validation. Nothing compiled.

Usage: python torch_loop.py DATA RESULT_JSON
"""

import sys
import tempfile
import time

import torch
from torch import nn

from benchmarks.datasets import load_raw, write_result

started = time.perf_counter()
torch.manual_seed(42)
(x_train, y_train), (x_test, y_test) = load_raw(sys.argv[1])
x_train = torch.from_numpy(x_train.reshape(len(x_train), 784)).float().div_(255)
x_test = torch.from_numpy(x_test.reshape(len(x_test), 784)).float().div_(255)
y_train = torch.from_numpy(y_train.astype("int64"))
y_test = torch.from_numpy(y_test.astype("int64"))

model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 10))
for layer in (model[0], model[2]):
    nn.init.xavier_uniform_(layer.weight)
    nn.init.zeros_(layer.bias)
optimizer = torch.optim.RMSprop(model.parameters(), lr=1e-3, alpha=0.9, eps=1e-7)
loss_fn = nn.CrossEntropyLoss()
batch_size, epochs = 128, 5


def evaluate(x, y):
    model.eval()
    with torch.no_grad():
        logits = torch.cat([model(x[i : i + 1024]) for i in range(0, len(x), 1024)])
    model.train()
    return loss_fn(logits, y).item(), (logits.argmax(1) == y).float().mean().item()


fit_started = time.perf_counter()
for epoch in range(epochs):
    order = torch.randperm(len(x_train))
    total, right = 0.0, 0
    for i in range(0, len(order), batch_size):
        index = order[i : i + batch_size]
        xb, yb = x_train[index], y_train[index]
        logits = model(xb)
        loss = loss_fn(logits, yb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item() * len(index)
        right += (logits.argmax(1) == yb).sum().item()
    val_loss, val_accuracy = evaluate(x_test, y_test)
    print(
        f"epoch {epoch + 1}/{epochs} loss {total / len(order):.4f} "
        f"accuracy {right / len(order):.4f} val_loss {val_loss:.4f} val_accuracy {val_accuracy:.4f}"
    )
fit_seconds = time.perf_counter() - fit_started

_, accuracy = evaluate(x_test, y_test)
with tempfile.TemporaryDirectory() as folder:
    torch.save(model.state_dict(), f"{folder}/model.pt")
write_result(sys.argv[2], started, fit_seconds, len(x_train), epochs, accuracy)
