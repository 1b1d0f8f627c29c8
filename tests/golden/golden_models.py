"""Golden data for kiln's models (models/*.h), computed with PyTorch 1.13 (Debian's python3-torch) in float64.

Each model is written again here in PyTorch, layer for layer, with kiln's parameter names (which are
PyTorch's), in a tiny configuration. Per case, under the prefix "<case>.":
  - the state_dict (biases, norm affine parameters and batch-norm running statistics re-drawn at random,
    so that their use is tested; PyTorch starts them at constants),
  - the inputs, the outputs and the loss the model trains with ("loss"),
  - the gradient of that loss with respect to every parameter and every floating input ("grad.<name>"),
  - the losses of 5 optimizer steps ("losses", shape [5]: the loss computed at each step, before its
    update) with the optimizer and hyperparameters of the model's trainer (apps/train_*.cpp), on the
    same batch every step, at a fixed learning rate (no schedule).
Stochastic parts are inputs: the VAE noise ε ("eps"), the RNN-VAE's decoder inputs after word dropout
("inputs", some symbols already replaced by UNK). Dropout is 0 where a model has it (char-RNN, GPT).

  classifier  models/classifier.h, widths (conv1, conv2, features) 4/6/10, x [2, 1, 28, 28]; cross-entropy (mean);
              Adam(1e-3) (apps/train_classifier.cpp)
  dcgan28     models/dcgan.h 28×28, latent 6, g = d = 2, batch 2; per step like apps/train_dcgan.cpp:
              fake = G(z); D step on BCE(D(real), 1) + BCE(D(fake.detach()), 0) (the real batch through D
              first: each pass updates D's batch-norm statistics); G step on BCE(D(fake), 1);
              Adam(2e-4, β = (0.5, 0.999)) for both. "losses_d", "losses_g" [5], and the batch-norm
              running statistics after the 5 steps ("after.G.<buffer>", "after.D.<buffer>").
  dcgan64     the same for the 64×64 network (latent 4, g = d = 1, 1 channel, batch 2), without grad.real
              (64 KB; the gradient through D's input is checked by the generator's gradients).
  vae         models/vae.h, widths (conv1, conv2, hidden) 4/4/8, latent 3, x [2, 1, 28, 28] in [0, 1] (also the BCE target, so
              grad.x has both paths), eps [2, 3]; loss = Σ BCE-with-logits + KL (vae_loss); Adam(1e-3)
  charrnn     models/char_rnn.h, vocab 11, embed 6, hidden 8, 2 layers, ids [3, 7]; mean cross-entropy;
              Adam(2e-3) with clip_grad_norm_ before every step (apps/train_lm.cpp), at 0.1 (--clip 0.1: the
              default 1.0 would not act, this model's gradient norm being about 0.23)
  rnnvae      models/rnn_vae.h, vocab 10 (6 symbols + PAD BOS EOS UNK), embed 5, hidden 6, latent 3,
              [3, 7] sentences; loss = CE(sum, ignore PAD)/B + β·KL/B with z = μ + ε·σ
              (apps/train_rnnvae.cpp);
              forward and gradients at β = 1, the 5 steps with β = min(1, step/4) ("betas");
              Adam(1e-3) with clip_grad_norm_ at 1.0 (--clip 1.0: the default 5.0 would not act, the norm
              being about 2)
  gpt         models/gpt.h, vocab 13, context 8, 2 layers, 2 heads, width 8, ids [2, 6]; mean cross-entropy;
              AdamW(1e-3, β = (0.9, 0.99), weight decay 0.1) on every parameter (apps/train_lm.cpp)

"grad_norms" (charrnn, rnnvae) holds the gradient norm before clipping at each step: the clipping is
exercised (the norms exceed the threshold).

Run: /usr/bin/python3 tests/golden/golden_models.py (writes tests/golden/models.safetensors).
"""
import copy
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_write  # noqa: E402

STEPS = 5
# The trainer's default is 1.0 (--clip); this tiny model's gradient norm is about 0.23, so the golden run
# clips at 0.1 (the trainer's --clip 0.1) to have the clipping act on every step.
CHARRNN_CLIP = 0.1
# The same for the RNN-VAE: the trainer's default is 5.0, the norm here about 2.
RNNVAE_CLIP = 1.0


# ---------------------------------------------------------------- the models, in PyTorch


def classifier(in_channels, classes, conv1, conv2, features):
    """models/classifier.h: a Sequential, names "0.weight", "3.weight", "7.weight", "9.weight"."""
    return nn.Sequential(
        nn.Conv2d(in_channels, conv1, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(conv1, conv2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(conv2 * 7 * 7, features), nn.ReLU(), nn.Linear(features, classes))


class DcganGenerator(nn.Module):
    def __init__(self, image_size, channels, latent, g):
        super().__init__()
        self.latent = latent
        widths = [4 * g, 2 * g] if image_size == 28 else [8 * g, 4 * g, 2 * g, g]
        layers = [nn.ConvTranspose2d(latent, widths[0], 7 if image_size == 28 else 4, 1, 0, bias=False),
                  nn.BatchNorm2d(widths[0]), nn.ReLU()]
        for a, b in zip(widths, widths[1:]):
            layers += [nn.ConvTranspose2d(a, b, 4, 2, 1, bias=False), nn.BatchNorm2d(b), nn.ReLU()]
        layers += [nn.ConvTranspose2d(widths[-1], channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z):
        return self.net(z.view(z.shape[0], self.latent, 1, 1))


class DcganDiscriminator(nn.Module):
    def __init__(self, image_size, channels, d):
        super().__init__()
        widths = [d, 2 * d] if image_size == 28 else [d, 2 * d, 4 * d, 8 * d]
        layers = [nn.Conv2d(channels, widths[0], 4, 2, 1, bias=False), nn.LeakyReLU(0.2)]
        for a, b in zip(widths, widths[1:]):
            layers += [nn.Conv2d(a, b, 4, 2, 1, bias=False), nn.BatchNorm2d(b), nn.LeakyReLU(0.2)]
        layers += [nn.Conv2d(widths[-1], 1, 7 if image_size == 28 else 4, 1, 0, bias=False)]
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x).view(x.shape[0])


class ConvVAE(nn.Module):
    """models/vae.h: returns (logits, mu, logvar); z = mu + eps * exp(logvar / 2)."""

    def __init__(self, latent, channels, conv1, conv2, hidden):
        super().__init__()
        self.enc = nn.Sequential(nn.Conv2d(channels, conv1, 4, 2, 1), nn.ReLU(), nn.Conv2d(conv1, conv2, 4, 2, 1),
                                 nn.ReLU(), nn.Flatten(), nn.Linear(conv2 * 7 * 7, hidden), nn.ReLU())
        self.mu = nn.Linear(hidden, latent)
        self.lv = nn.Linear(hidden, latent)
        self.dec = nn.Sequential(nn.Linear(latent, hidden), nn.ReLU(), nn.Linear(hidden, conv2 * 7 * 7), nn.ReLU(),
                                 nn.Unflatten(1, (conv2, 7, 7)), nn.ConvTranspose2d(conv2, conv1, 4, 2, 1), nn.ReLU(),
                                 nn.ConvTranspose2d(conv1, channels, 4, 2, 1))

    def forward(self, x, eps):
        h = self.enc(x)
        mu, logvar = self.mu(h), torch.clamp(self.lv(h), -30.0, 20.0)
        return self.dec(mu + eps * torch.exp(0.5 * logvar)), mu, logvar


def gaussian_kl(mu, logvar):
    """KL(N(mu, sigma^2) || N(0, I)) summed: -1/2 sum(1 + logvar - mu^2 - exp(logvar))."""
    return -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())


def vae_loss(logits, mu, logvar, x):
    return F.binary_cross_entropy_with_logits(logits, x, reduction="sum") + gaussian_kl(mu, logvar)


class CharRNN(nn.Module):
    def __init__(self, vocab, embed, hidden, layers):
        super().__init__()
        self.emb = nn.Embedding(vocab, embed)
        self.rnn = nn.LSTM(embed, hidden, layers, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, ids):
        return self.head(self.rnn(self.emb(ids))[0])


class RnnVAE(nn.Module):
    def __init__(self, vocab, embed, hidden, latent):
        super().__init__()
        self.emb = nn.Embedding(vocab, embed)
        self.encoder = nn.LSTM(embed, hidden, batch_first=True)
        self.mu = nn.Linear(hidden, latent)
        self.lv = nn.Linear(hidden, latent)
        self.z_to_h = nn.Linear(latent, hidden)
        self.decoder = nn.LSTM(embed, hidden, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def encode(self, ids):
        h = self.encoder(self.emb(ids))[1][0][0]  # h_n of the only layer, [B, H]
        return self.mu(h), torch.clamp(self.lv(h), -30.0, 20.0)

    def decode(self, z, inputs):
        h0 = torch.tanh(self.z_to_h(z)).unsqueeze(0)
        return self.head(self.decoder(self.emb(inputs), (h0, torch.zeros_like(h0)))[0])


class CausalSelfAttention(nn.Module):
    def __init__(self, width, heads):
        super().__init__()
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)
        self.heads = heads

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)
        q, k, v = [t.view(B, T, self.heads, C // self.heads).transpose(1, 2) for t in (q, k, v)]
        scores = q @ k.transpose(-2, -1) / math.sqrt(C // self.heads)
        scores = scores.masked_fill(torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1), float("-inf"))
        return self.proj((torch.softmax(scores, dim=-1) @ v).transpose(1, 2).reshape(B, T, C))


class MLP(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.fc = nn.Linear(width, 4 * width)
        self.fc2 = nn.Linear(4 * width, width)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc(x)))


class Block(nn.Module):
    def __init__(self, width, heads):
        super().__init__()
        self.ln1 = nn.LayerNorm(width)
        self.attn = CausalSelfAttention(width, heads)
        self.ln2 = nn.LayerNorm(width)
        self.mlp = MLP(width)

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class GPT(nn.Module):
    def __init__(self, vocab, context, layers, heads, width):
        super().__init__()
        self.wte = nn.Embedding(vocab, width)
        self.wpe = nn.Embedding(context, width)
        self.blocks = nn.Sequential(*[Block(width, heads) for _ in range(layers)])
        self.lnf = nn.LayerNorm(width)
        self.head = nn.Linear(width, vocab, bias=False)

    def forward(self, ids):
        x = self.wte(ids) + self.wpe(torch.arange(ids.shape[1]))
        return self.head(self.lnf(self.blocks(x)))


# ---------------------------------------------------------------- recording


def randomize(module):
    """Biases U(-0.5, 0.5); norm weights U(0.5, 1.5); batch-norm running statistics drawn too."""
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, (nn.LayerNorm, nn.BatchNorm2d)):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 1.5)
                m.num_batches_tracked.fill_(3)
            for name, p in m.named_parameters(recurse=False):
                if "bias" in name and not isinstance(m, (nn.LayerNorm, nn.BatchNorm2d)):
                    p.uniform_(-0.5, 0.5)


def put(out, name, t):
    out[name] = t.detach().numpy().copy()


def put_state(out, prefix, module):
    for name, t in module.state_dict().items():
        put(out, f"{prefix}.{name}", t)


def put_grads(out, prefix, module):
    for name, p in module.named_parameters():
        put(out, f"{prefix}.grad.{name}", p.grad)


def train(model, make_optimizer, loss_fn, clip=None):
    """STEPS optimizer steps on a copy of `model`; returns the losses (and the pre-clip gradient norms)."""
    model = copy.deepcopy(model)
    opt = make_optimizer(model.parameters())
    losses, norms = [], []
    for step in range(1, STEPS + 1):
        loss = loss_fn(model, step)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if clip is not None:
            norms.append(float(nn.utils.clip_grad_norm_(model.parameters(), clip)))
        opt.step()
        losses.append(loss.item())
    return torch.tensor(losses), torch.tensor(norms)


# ---------------------------------------------------------------- the cases


def case_classifier(out):
    torch.manual_seed(101)
    c = "classifier"
    model = classifier(1, 10, 4, 6, 10)
    randomize(model)
    x = torch.randn(2, 1, 28, 28, requires_grad=True)
    labels = torch.tensor([3, 7])
    put_state(out, c, model)
    logits = model(x)
    loss = F.cross_entropy(logits, labels)
    loss.backward()
    put(out, f"{c}.x", x)
    put(out, f"{c}.labels", labels)
    put(out, f"{c}.output", logits)
    put(out, f"{c}.loss", loss)
    put(out, f"{c}.grad.x", x.grad)
    put_grads(out, c, model)
    xd = x.detach()
    losses, _ = train(model, lambda ps: torch.optim.Adam(ps, lr=1e-3), lambda m, s: F.cross_entropy(m(xd), labels))
    put(out, f"{c}.losses", losses)


def dcgan_step_losses(G, D, z, real):
    """apps/train_dcgan.cpp's step, STEPS times on the same z and real batch."""
    G, D = copy.deepcopy(G), copy.deepcopy(D)
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    n = real.shape[0]
    ones, zeros = torch.ones(n), torch.zeros(n)
    losses_d, losses_g = [], []
    for _ in range(STEPS):
        fake = G(z)
        loss_d = (F.binary_cross_entropy_with_logits(D(real), ones) +
                  F.binary_cross_entropy_with_logits(D(fake.detach()), zeros))
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        loss_g = F.binary_cross_entropy_with_logits(D(fake), ones)
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        losses_d.append(loss_d.item())
        losses_g.append(loss_g.item())
    return torch.tensor(losses_d), torch.tensor(losses_g), G, D


def case_dcgan(out, c, image_size, latent, features, batch, seed, store_grad_real=True):
    torch.manual_seed(seed)
    G = DcganGenerator(image_size, 1, latent, features)
    D = DcganDiscriminator(image_size, 1, features)
    randomize(G)
    randomize(D)
    put_state(out, f"{c}.G", G)
    put_state(out, f"{c}.D", D)
    z = torch.randn(batch, latent, requires_grad=True)
    real = (torch.rand(batch, 1, image_size, image_size) * 2 - 1).requires_grad_()
    losses_d, losses_g, G_after, D_after = dcgan_step_losses(G, D, z.detach(), real.detach())

    Gc, Dc = copy.deepcopy(G), copy.deepcopy(D)
    ones, zeros = torch.ones(batch), torch.zeros(batch)
    fake = Gc(z)
    d_real, d_fake = Dc(real), Dc(fake.detach())
    loss_d = F.binary_cross_entropy_with_logits(d_real, ones) + F.binary_cross_entropy_with_logits(d_fake, zeros)
    loss_d.backward()
    put_grads(out, f"{c}.D", Dc)
    if store_grad_real:
        put(out, f"{c}.grad.real", real.grad)
    for p in Dc.parameters():
        p.grad = None
    loss_g = F.binary_cross_entropy_with_logits(Dc(fake), ones)
    loss_g.backward()
    put_grads(out, f"{c}.G", Gc)
    put(out, f"{c}.grad.z", z.grad)
    for name, t in (("z", z), ("real", real), ("fake", fake), ("d_real", d_real), ("d_fake", d_fake),
                    ("loss_d", loss_d), ("loss_g", loss_g), ("losses_d", losses_d), ("losses_g", losses_g)):
        put(out, f"{c}.{name}", t)
    for prefix, module in (("G", G_after), ("D", D_after)):
        for name, t in module.named_buffers():
            put(out, f"{c}.after.{prefix}.{name}", t)


def case_vae(out):
    torch.manual_seed(103)
    c = "vae"
    model = ConvVAE(3, 1, 4, 4, 8)
    randomize(model)
    put_state(out, c, model)
    x = torch.rand(2, 1, 28, 28, requires_grad=True)
    eps = torch.randn(2, 3)
    logits, mu, logvar = model(x, eps)
    loss = vae_loss(logits, mu, logvar, x)
    loss.backward()
    for name, t in (("x", x), ("eps", eps), ("logits", logits), ("mu", mu), ("logvar", logvar), ("loss", loss),
                    ("grad.x", x.grad)):
        put(out, f"{c}.{name}", t)
    put_grads(out, c, model)
    xd = x.detach()
    losses, _ = train(model, lambda ps: torch.optim.Adam(ps, lr=1e-3), lambda m, s: vae_loss(*m(xd, eps), xd))
    put(out, f"{c}.losses", losses)


def language_model_case(out, c, model, V, shape, make_optimizer, clip=None):
    """A char-RNN or GPT case: ids and targets of `shape`, logits, cross-entropy, every gradient, and the
    losses of STEPS steps (with the pre-clip gradient norms when the trainer clips)."""
    randomize(model)
    put_state(out, c, model)
    ids = torch.randint(0, V, shape)
    targets = torch.randint(0, V, shape)
    logits = model(ids)
    loss = F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1))
    loss.backward()
    for name, t in (("ids", ids), ("targets", targets), ("output", logits), ("loss", loss)):
        put(out, f"{c}.{name}", t)
    put_grads(out, c, model)
    losses, norms = train(model, make_optimizer,
                          lambda m, s: F.cross_entropy(m(ids).reshape(-1, V), targets.reshape(-1)), clip=clip)
    put(out, f"{c}.losses", losses)
    if clip is not None:
        assert (norms > clip).all(), norms
        put(out, f"{c}.grad_norms", norms)


def case_charrnn(out):
    torch.manual_seed(104)
    language_model_case(out, "charrnn", CharRNN(11, 6, 8, 2), 11, (3, 7),
                        lambda ps: torch.optim.Adam(ps, lr=2e-3), clip=CHARRNN_CLIP)


def case_rnnvae(out):
    torch.manual_seed(105)
    c = "rnnvae"
    symbols, B, T, latent = 6, 3, 7, 3
    PAD, BOS, EOS, UNK = symbols, symbols + 1, symbols + 2, symbols + 3
    V = symbols + 4
    model = RnnVAE(V, 5, 6, latent)
    randomize(model)
    put_state(out, c, model)
    # Sentences of 6, 4 and 2 symbols: targets s1..sn EOS PAD..., decoder inputs BOS s1..sn PAD... with some
    # symbols replaced by UNK (word dropout, drawn here).
    targets = torch.full((B, T), PAD)
    inputs = torch.full((B, T), PAD)
    for b, n in enumerate((6, 4, 2)):
        s = torch.randint(0, symbols, (n,))
        targets[b, :n], targets[b, n] = s, EOS
        inputs[b, 0], inputs[b, 1:n + 1] = BOS, s
    drop = (torch.rand(B, T) < 0.25) & (inputs < PAD)
    inputs[drop] = UNK
    eps = torch.randn(B, latent)

    def loss_terms(m, beta):
        mu, logvar = m.encode(targets)
        logits = m.decode(mu + eps * torch.exp(0.5 * logvar), inputs)
        rec = F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1), ignore_index=PAD, reduction="sum") / B
        kl = gaussian_kl(mu, logvar) / B
        return rec + beta * kl, rec, kl, logits, mu, logvar

    loss, rec, kl, logits, mu, logvar = loss_terms(model, 1.0)
    loss.backward()
    for name, t in (("targets", targets), ("inputs", inputs), ("eps", eps), ("logits", logits), ("mu", mu),
                    ("logvar", logvar), ("rec", rec), ("kl", kl), ("loss", loss)):
        put(out, f"{c}.{name}", t)
    put_grads(out, c, model)
    betas = torch.tensor([min(1.0, s / 4) for s in range(1, STEPS + 1)])
    losses, norms = train(model, lambda ps: torch.optim.Adam(ps, lr=1e-3),
                          lambda m, s: loss_terms(m, float(betas[s - 1]))[0], clip=RNNVAE_CLIP)
    assert (norms > RNNVAE_CLIP).all(), norms
    put(out, f"{c}.betas", betas)
    put(out, f"{c}.losses", losses)
    put(out, f"{c}.grad_norms", norms)


def case_gpt(out):
    torch.manual_seed(106)
    language_model_case(out, "gpt", GPT(13, 8, 2, 2, 8), 13, (2, 6),
                        lambda ps: torch.optim.AdamW(ps, lr=1e-3, betas=(0.9, 0.99), weight_decay=0.1))


def main(path=None):
    """Writes models.safetensors (beside this file unless `path` is given); returns its path."""
    path = path or os.path.join(os.path.dirname(os.path.abspath(__file__)), "models.safetensors")
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        out = {}
        case_classifier(out)
        case_dcgan(out, "dcgan28", 28, 6, 2, 2, 102)
        case_dcgan(out, "dcgan64", 64, 4, 1, 2, 107, store_grad_real=False)
        case_vae(out)
        case_charrnn(out)
        case_rnnvae(out)
        case_gpt(out)
    finally:
        torch.set_default_dtype(previous)
    st_write.save(path, out, metadata={"generator": "golden_models.py", "torch": torch.__version__})
    print(f"wrote {path}: {len(out)} tensors, {os.path.getsize(path)} bytes")
    return path


if __name__ == "__main__":
    main()
