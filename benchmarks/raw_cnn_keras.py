"""keras-io's mnist_convnet as its example writes it: the CNN baseline.

Conv2D(32, 3, relu) -> MaxPool(2) -> Conv2D(64, 3, relu) -> MaxPool(2) -> Flatten ->
Dropout(0.5) -> Dense(10, softmax); Adam, categorical cross-entropy on one-hot labels,
batch 128, validation_split=0.1 (the last 6,000 training images), `model.fit` with
Keras' defaults, then evaluate on the test set. Nothing tuned.

Usage: python raw_cnn_keras.py DATA RESULT_JSON EPOCHS
"""

import sys
import time

import keras
import numpy as np
from keras import layers

from benchmarks.datasets import load_raw, write_result

started = time.perf_counter()
epochs = int(sys.argv[3])
(x_train, y_train), (x_test, y_test) = load_raw(sys.argv[1])

x_train = np.expand_dims(x_train.astype("float32") / 255, -1)
x_test = np.expand_dims(x_test.astype("float32") / 255, -1)
y_train_hot = keras.utils.to_categorical(y_train, 10)
y_test_hot = keras.utils.to_categorical(y_test, 10)

model = keras.Sequential(
    [
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Flatten(),
        layers.Dropout(0.5),
        layers.Dense(10, activation="softmax"),
    ]
)
model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])

fit_started = time.perf_counter()
model.fit(x_train, y_train_hot, batch_size=128, epochs=epochs, validation_split=0.1, verbose=2)
fit_seconds = time.perf_counter() - fit_started

_, accuracy = model.evaluate(x_test, y_test_hot, verbose=0)
write_result(sys.argv[2], started, fit_seconds, len(x_train) * 0.9, epochs, accuracy)
