"""gn.data end to end: a standardized synthetic set, batched by a Dataset, trains a model."""

import numpy as np

import graphnet as gn
from graphnet.data import Dataset, Standardizer, make_linearly_separable, train_test_split


def test_logistic_regression_trains_on_dataset_batches():
    x, y = make_linearly_separable(n_per_class=100, margin=0.2, seed=0)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=0)
    scaler = Standardizer().fit(x_train)
    train = (
        Dataset.from_tensor_slices((scaler.transform(x_train), y_train.astype(np.float32)))
        .shuffle(150, seed=0)
        .batch(16)
        .repeat(10)
        .prefetch(2)
    )

    features = gn.placeholder(gn.float32, [None, 3])
    labels = gn.placeholder(gn.float32, [None])
    w = gn.Variable(np.zeros((3, 1), np.float32))
    b = gn.Variable(np.zeros(1, np.float32))
    logits = gn.reshape(gn.matmul(features, w) + b, [-1])
    loss = gn.reduce_mean(gn.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits))
    grad_w, grad_b = gn.gradients(loss, [w, b])
    step = gn.group(gn.assign_sub(w, 0.5 * grad_w), gn.assign_sub(b, 0.5 * grad_b))

    with gn.Session() as sess:
        sess.run(gn.global_variables_initializer())
        batches = 0
        for batch_x, batch_y in train:
            sess.run(step, {features: batch_x, labels: batch_y})
            batches += 1
        test_logits = sess.run(logits, {features: scaler.transform(x_test)})
    assert batches == len(train) == 10 * 10
    assert np.mean((test_logits > 0) == (y_test == 1)) > 0.95
