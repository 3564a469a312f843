"""PyTorch's schedulers as oracles: the LR they set at steps 0..n-1."""


def torch_learning_rates(make_scheduler, steps, base_lr=0.1):
    import torch

    parameter = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([parameter], lr=base_lr)
    scheduler = make_scheduler(optimizer)
    rates = []
    for _ in range(steps):
        rates.append(scheduler.get_last_lr()[0])
        optimizer.step()
        scheduler.step()
    return rates
