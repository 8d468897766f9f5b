"""keras-io's mnist_convnet as a plain PyTorch CPU training loop.

The same network (Conv 32 -> MaxPool -> Conv 64 -> MaxPool -> Dropout(0.5) -> Linear),
Keras' initialisation (Glorot-uniform weights, zero biases), Adam with Keras' settings
(lr 1e-3, eps 1e-7), cross-entropy on class ids, batch 128 reshuffled each epoch, the
last 6,000 training images held out and evaluated after every epoch, as
validation_split=0.1 does. Nothing compiled.

Usage: python torch_cnn.py DATA RESULT_JSON EPOCHS
"""

import sys
import time

import torch
from torch import nn

from benchmarks.datasets import load_raw, write_result

started = time.perf_counter()
torch.manual_seed(42)
epochs, batch_size = int(sys.argv[3]), 128
(x_train, y_train), (x_test, y_test) = load_raw(sys.argv[1])
x_train = torch.from_numpy(x_train).float().div_(255).unsqueeze(1)
x_test = torch.from_numpy(x_test).float().div_(255).unsqueeze(1)
y_train = torch.from_numpy(y_train.astype("int64"))
y_test = torch.from_numpy(y_test.astype("int64"))
held_out = len(x_train) // 10
x_train, x_val = x_train[:-held_out], x_train[-held_out:]
y_train, y_val = y_train[:-held_out], y_train[-held_out:]

model = nn.Sequential(
    nn.Conv2d(1, 32, 3),
    nn.ReLU(),
    nn.MaxPool2d(2),
    nn.Conv2d(32, 64, 3),
    nn.ReLU(),
    nn.MaxPool2d(2),
    nn.Flatten(),
    nn.Dropout(0.5),
    nn.Linear(64 * 5 * 5, 10),
)
for layer in model:
    if isinstance(layer, nn.Conv2d | nn.Linear):
        nn.init.xavier_uniform_(layer.weight)
        nn.init.zeros_(layer.bias)
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
loss_fn = nn.CrossEntropyLoss()


def evaluate(x, y):
    model.eval()
    with torch.no_grad():
        logits = torch.cat([model(x[i : i + 1024]) for i in range(0, len(x), 1024)])
    model.train()
    return loss_fn(logits, y).item(), (logits.argmax(1) == y).float().mean().item()


fit_started = time.perf_counter()
for epoch in range(epochs):
    order = torch.randperm(len(x_train))
    for i in range(0, len(order), batch_size):
        index = order[i : i + batch_size]
        loss = loss_fn(model(x_train[index]), y_train[index])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    val_loss, val_accuracy = evaluate(x_val, y_val)
    print(f"epoch {epoch + 1}/{epochs} val_loss {val_loss:.4f} val_accuracy {val_accuracy:.4f}")
fit_seconds = time.perf_counter() - fit_started

_, accuracy = evaluate(x_test, y_test)
write_result(sys.argv[2], started, fit_seconds, len(x_train), epochs, accuracy)
