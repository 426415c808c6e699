"""The autograd chapter's two-layer network, trained with manual SGD, in Python with ember.

Exactly the chapter's program: forward with mm/add/clamp, a squared-error loss,
loss.backward(), and the update under no_grad(). The seed makes the run repeatable;
with `import torch as torch` and the same seed, PyTorch prints the same losses.
"""

import ember as torch

torch.manual_seed(0)

### generate training data -----------------------------------------------------
# input dimensionality (number of input features)
d_in = 3
# output dimensionality (number of predicted features)
d_out = 1
# number of observations in training set
n = 100
# create random data
x = torch.randn(n, d_in)
y = x[:, 0] * 0.2 - x[..., 1] * 1.3 - x[..., 2] * 0.5 + torch.randn(n)
y = y.unsqueeze(dim=1)

### initialize weights ---------------------------------------------------------
# dimensionality of hidden layer
d_hidden = 32
# weights connecting input to hidden layer
w1 = torch.randn(d_in, d_hidden, requires_grad=True)
# weights connecting hidden to output layer
w2 = torch.randn(d_hidden, d_out, requires_grad=True)
# hidden layer bias
b1 = torch.zeros(1, d_hidden, requires_grad=True)
# output layer bias
b2 = torch.zeros(1, d_out, requires_grad=True)

### network parameters ---------------------------------------------------------
learning_rate = 1e-4

### training loop --------------------------------------------------------------
for t in range(1, 201):
    ### -------- Forward pass --------
    y_pred = x.mm(w1).add(b1).clamp(min=0).mm(w2).add(b2)
    ### -------- compute loss --------
    loss = (y_pred - y).pow(2).mean()
    if t % 10 == 0:
        print(t, f"{loss.item():.4f}")
    ### -------- Backpropagation --------
    # compute the gradient of loss with respect to all tensors with requires_grad = True.
    loss.backward()
    ### -------- Update weights --------
    # Wrap in no_grad() because this is a part we DON'T want to record for automatic gradient computation
    with torch.no_grad():
        w1.sub_(learning_rate * w1.grad)
        w2.sub_(learning_rate * w2.grad)
        b1.sub_(learning_rate * b1.grad)
        b2.sub_(learning_rate * b2.grad)
        # Zero the gradients after every pass, because they'd accumulate otherwise
        w1.grad.zero_()
        w2.grad.zero_()
        b1.grad.zero_()
        b2.grad.zero_()
