#include "models/style_transfer.h"

#include <cmath>
#include <algorithm>
#include <deque>
#include <functional>

#include "core/autograd/grad_mode.h"
#include "core/error.h"
#include "core/ops/ops.h"
#include "core/shape.h"
#include "layers/layers.h"
#include "optim/optimizer.h"

namespace kiln::models {

StyleNetwork vgg19_style_network() {
  StyleNetwork net;
  net.layers = std::make_shared<Sequential>();
  // Blocks of 2, 2, 4, 4, 4 3×3 convolutions (64, 128, 256, 512, 512 channels), each followed by ReLU,
  // and a 2×2 max pool after every block: torchvision's indices 0 … 36.
  const int64_t widths[] = {64, 128, 256, 512, 512};
  const int convs[] = {2, 2, 4, 4, 4};
  int64_t in = 3;
  for (int b = 0; b < 5; ++b) {
    for (int i = 0; i < convs[b]; ++i) {
      net.layers->push_back(std::make_shared<Conv2d>(in, widths[b], 3, Conv2dOptions{.padding = 1}));
      net.layers->push_back(std::make_shared<ReLU>());
      in = widths[b];
    }
    net.layers->push_back(std::make_shared<MaxPool2d>(2));
  }
  net.content_layers = {22};                   // relu4_2
  net.style_layers = {1, 6, 11, 20, 29};       // relu1_1, relu2_1, relu3_1, relu4_1, relu5_1
  net.channels = 3;
  net.mean = {0.485, 0.456, 0.406};
  net.std = {0.229, 0.224, 0.225};
  return net;
}

StyleNetwork classifier_style_network(const std::shared_ptr<Sequential>& classifier) {
  KILN_CHECK(classifier && classifier->size() >= 6, "classifier_style_network: expected kiln's classifier");
  StyleNetwork net;
  net.layers = std::make_shared<Sequential>();
  for (size_t i = 0; i < 6; ++i) net.layers->push_back((*classifier)[i]);  // conv–ReLU–pool, twice
  net.content_layers = {4};
  net.style_layers = {1, 4};
  net.channels = 1;
  net.mean = {0.0};
  net.std = {1.0};
  return net;
}

Tensor gram_matrix(const Tensor& f) {
  KILN_CHECK(f.dim() == 4 && f.size(0) == 1, "gram_matrix: features must be [1, C, H, W], got ", shape_str(f.shape()));
  const int64_t c = f.size(1), hw = f.size(2) * f.size(3);
  Tensor flat = f.reshape({c, hw});
  return div(matmul(flat, flat.t()), double(c * hw));
}

namespace {

// The network's input convention: (image − mean) / std per channel, built once per transfer, in the
// image's dtype and on its device (a float32 default would not subtract from a float64 image).
struct Normalization {
  Tensor mean, stdev;
  Normalization(const StyleNetwork& net, const Tensor& like)
      : mean(from_vector(net.mean, {1, net.channels, 1, 1}, like.options())),
        stdev(from_vector(net.std, {1, net.channels, 1, 1}, like.options())) {}
};

// One forward pass of a normalized image; the outputs of the layers in each list, in the list's order.
std::vector<std::vector<Tensor>> features_at(const StyleNetwork& net, const Normalization& norm, const Tensor& image,
                                             const std::vector<std::vector<size_t>>& lists) {
  size_t last = 0;
  for (const auto& list : lists)
    for (size_t layer : list) last = std::max(last, layer);
  std::vector<Tensor> outputs;  // outputs[i]: layer i's
  Tensor h = div(sub(image, norm.mean), norm.stdev);
  for (size_t i = 0; i <= last; ++i) outputs.push_back(h = (*net.layers)[i]->forward(h));
  std::vector<std::vector<Tensor>> picked;
  for (const auto& list : lists) {
    picked.emplace_back();
    for (size_t layer : list) picked.back().push_back(outputs[layer]);
  }
  return picked;
}

}  // namespace

Tensor style_transfer(const StyleNetwork& net, const Tensor& content, const Tensor& style, const StyleOptions& o,
                      const std::function<void(int64_t, double)>& progress) {
  KILN_CHECK(content.dim() == 4 && content.size(0) == 1 && content.size(1) == net.channels && style.dim() == 4 &&
                 style.size(0) == 1 && style.size(1) == net.channels,
             "style_transfer: content and style must be [1, ", net.channels, ", H, W], got ",
             shape_str(content.shape()), " and ", shape_str(style.shape()));
  KILN_CHECK(o.steps >= 1, "style_transfer: steps must be positive");
  for (Tensor p : net.layers->parameters()) p.requires_grad_(false);  // handles: the network itself is frozen
  net.layers->eval();
  const Normalization norm(net, content);
  std::vector<Tensor> content_targets, style_targets;
  {
    NoGradGuard no_grad;
    content_targets = features_at(net, norm, content, {net.content_layers})[0];
    const auto style_features = features_at(net, norm, style, {net.style_layers});
    for (const Tensor& f : style_features[0]) style_targets.push_back(gram_matrix(f));
  }
  // L(x) = α·Σ mse(F_c(x), F_c(content)) + β·Σ mse(G(F_s(x)), G(F_s(style)))
  auto loss_of = [&](const Tensor& x) {
    const auto features = features_at(net, norm, x, {net.content_layers, net.style_layers});
    const std::vector<Tensor>& c = features[0];
    const std::vector<Tensor>& s = features[1];
    Tensor loss = mul(mse_loss(c[0], content_targets[0]), o.content_weight);
    for (size_t i = 1; i < c.size(); ++i) loss = add(loss, mul(mse_loss(c[i], content_targets[i]), o.content_weight));
    for (size_t i = 0; i < s.size(); ++i) loss = add(loss, mul(mse_loss(gram_matrix(s[i]), style_targets[i]), o.style_weight));
    return loss;
  };

  Tensor x = content.detach().clone().requires_grad_(true);
  if (!o.lbfgs) {
    Adam adam({x}, o.lr);
    for (int64_t step = 1; step <= o.steps; ++step) {
      Tensor loss = loss_of(x);
      adam.zero_grad();
      loss.backward();
      adam.step();
      {
        NoGradGuard no_grad;
        x.copy_(clamp(x, 0.0, 1.0));
      }
      if (progress && (step % 50 == 0 || step == o.steps)) progress(step, loss.item());
    }
    return x.detach();
  }
  // L-BFGS (Nocedal & Wright, algorithm 7.4) with a history of 10 pairs and unit steps (the first scaled
  // to 1/‖g‖₁, as torch.optim.LBFGS does), projecting onto [0, 1] after every step.
  std::deque<std::pair<Tensor, Tensor>> history;  // (s = x_{k+1} − x_k, y = g_{k+1} − g_k)
  auto grad_at = [&](double& value) {
    x.set_grad(Tensor());
    Tensor loss = loss_of(x);
    loss.backward();
    value = loss.item();
    return x.grad().detach().clone();
  };
  double value = 0.0;
  Tensor g = grad_at(value);
  for (int64_t step = 1; step <= o.steps; ++step) {
    // two-loop recursion: d = −H·g
    Tensor q = g.clone();
    std::vector<double> alphas;
    for (auto it = history.rbegin(); it != history.rend(); ++it) {
      const double rho = 1.0 / sum(mul(it->second, it->first)).item();
      const double a = rho * sum(mul(it->first, q)).item();
      alphas.push_back(a);
      q = sub(q, mul(it->second, a));
    }
    if (!history.empty()) {
      const auto& [s, y] = history.back();
      q = mul(q, sum(mul(s, y)).item() / sum(mul(y, y)).item());
    }
    size_t k = alphas.size();
    for (auto it = history.begin(); it != history.end(); ++it) {
      const double rho = 1.0 / sum(mul(it->second, it->first)).item();
      const double b = rho * sum(mul(it->second, q)).item();
      q = add(q, mul(it->first, alphas[--k] - b));
    }
    const double t = history.empty() ? std::min(1.0, 1.0 / std::max(1e-12, sum(abs(g)).item())) : 1.0;
    Tensor before = x.detach().clone();
    {
      NoGradGuard no_grad;
      x.copy_(clamp(sub(x, mul(q, t)), 0.0, 1.0));
    }
    Tensor g_new = grad_at(value);
    Tensor s = sub(x.detach(), before), y = sub(g_new, g);
    if (sum(mul(s, y)).item() > 1e-10) {
      history.emplace_back(s, y);
      if (history.size() > 10) history.pop_front();
    }
    g = g_new;
    if (progress && (step % 50 == 0 || step == o.steps)) progress(step, value);
  }
  return x.detach();
}

}  // namespace kiln::models
