"""The tutorial's script, kept plain: the baseline every other system is measured against.

784 -> Dense(512, relu) -> Dense(10, softmax), RMSprop, categorical cross-entropy on
one-hot labels (to_categorical), `model.fit` with Keras' defaults, 5 epochs of batch
128, the test set as validation data, then evaluate, save, predict. Nothing tuned.

Usage: python raw_keras.py DATA RESULT_JSON   (DATA: a Keras-layout .npz or IDX folder)
"""

import sys
import tempfile
import time

import numpy as np
from keras.layers import Activation, Dense, Input
from keras.models import Sequential
from keras.utils import to_categorical

from benchmarks.datasets import load_raw, write_result

started = time.perf_counter()
(X_train, y_train), (X_test, y_test) = load_raw(sys.argv[1])

X_train = X_train.reshape(len(X_train), 784).astype("float32") / 255
X_test = X_test.reshape(len(X_test), 784).astype("float32") / 255
Y_train = to_categorical(y_train, 10)
Y_test = to_categorical(y_test, 10)

model = Sequential()
model.add(Input(shape=(784,)))
model.add(Dense(512))
model.add(Activation("relu"))
model.add(Dense(10))
model.add(Activation("softmax"))
model.compile(loss="categorical_crossentropy", metrics=["accuracy"], optimizer="rmsprop")

fit_started = time.perf_counter()
history = model.fit(
    X_train, Y_train, batch_size=128, epochs=5, verbose=2, validation_data=(X_test, Y_test)
)
fit_seconds = time.perf_counter() - fit_started

loss, accuracy = model.evaluate(X_test, Y_test, verbose=0)
with tempfile.TemporaryDirectory() as folder:
    model.save(f"{folder}/keras_mnist.keras")
predicted = np.argmax(model.predict(X_test, verbose=0), axis=1)
correct = int(np.count_nonzero(predicted == y_test))

write_result(sys.argv[2], started, fit_seconds, len(X_train), 5, correct / len(y_test))
