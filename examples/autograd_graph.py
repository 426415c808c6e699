"""The autograd chapter's graph example, in Python with ember.

Builds y = x1 * (x2 + 2), z = 3 * y^2, out = mean(z), walks out.grad_fn down to both
AccumulateGrad nodes, then runs backward() and prints every gradient. Replace
`import ember as torch` with `import torch` and PyTorch prints the same.
"""

import ember as torch

x1 = torch.ones(2, 2, requires_grad=True)
x2 = torch.tensor(1.1, requires_grad=True)
y = x1 * (x2 + 2)
y.retain_grad()
z = y.pow(2) * 3
z.retain_grad()
out = z.mean()

# how to compute the gradient for mean, the last operation executed
print(out.grad_fn)
# how to compute the gradient for the multiplication by 3 in z = y.pow(2) * 3
print(out.grad_fn.next_functions)
# how to compute the gradient for pow in z = y.pow(2) * 3
print(out.grad_fn.next_functions[0][0].next_functions)
# how to compute the gradient for the multiplication in y = x1 * (x2 + 2)
print(out.grad_fn.next_functions[0][0].next_functions[0][0].next_functions)
# the two branches of y = x1 * (x2 + 2): the left is a leaf (AccumulateGrad for x1)
print(out.grad_fn.next_functions[0][0].next_functions[0][0].next_functions[0][0].next_functions)
# here we arrive at the other leaf node (AccumulateGrad for x2)
print(out.grad_fn.next_functions[0][0].next_functions[0][0].next_functions[0][0].next_functions[1][0].next_functions)

# each AccumulateGrad node holds its leaf
add_node = out.grad_fn.next_functions[0][0].next_functions[0][0].next_functions[0][0]
print(add_node.next_functions[0][0].variable is x1)
print(add_node.next_functions[1][0].next_functions[0][0].variable is x2)

out.backward()

print(z.grad)
print(y.grad)
print(x2.grad)
print(x1.grad)
