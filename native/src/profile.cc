// Op-level profiler behind `bench learners --profile`: a RecordFunction observer on the calling
// thread that sums, per op name, the calls, the self and total wall time and, for matrix products
// and convolutions, the floating-point operations. libtorch calls it for every dispatched op
// and for every autograd node run by backward() (on CPU the engine runs them on this thread).
// Grouping op names into families is the bench's job (bench/profile.ts); this file only counts.
// RecordFunction's callback API is the same in libtorch 1.13 and 2.x.
#include "common.h"

#include <ATen/record_function.h>

#include <chrono>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace tvs {
namespace {

struct OpStats {
  int64_t calls = 0;
  int64_t selfNs = 0;
  int64_t totalNs = 0;
  double flops = 0;
  bool backward = false;
};

struct Frame {
  int64_t start;
  int64_t childNs;
  double flops;
};

struct Profiler {
  bool on = false;
  at::CallbackHandle handle = 0;
  std::thread::id thread;
  std::unordered_map<std::string, OpStats> ops;
  std::vector<Frame> stack;
  int64_t topNs = 0;  // time inside outermost recorded ops (the rest of a step is outside libtorch)
};

Profiler& P() {
  static Profiler p;
  return p;
}

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::vector<int64_t> SizesOf(const c10::IValue& v) {
  if (!v.isTensor()) return {};
  auto s = v.toTensor().sizes();
  return std::vector<int64_t>(s.begin(), s.end());
}

std::vector<int64_t> IntsOf(const c10::IValue& v) {
  if (!v.isIntList()) return {};
  return v.toIntVector();
}

// FLOPs of the ops that do the arithmetic of a transformer: 2 per multiply-add. Only these
// ops' inputs are read (libtorch records no inputs for some ops, e.g. factories).
double FlopsOf(const at::RecordFunction& fn) {
  const std::string name = fn.name();
  if (name != "aten::mm" && name != "aten::addmm" && name != "aten::bmm" && name != "aten::baddbmm" && name != "aten::convolution" &&
      name != "tvs::attention" && name != "tvs::attention_backward") return 0;
  auto in = fn.inputs();
  auto prod = [](const std::vector<int64_t>& v, size_t from) {
    double p = 1;
    for (size_t i = from; i < v.size(); i++) p *= static_cast<double>(v[i]);
    return p;
  };
  if (name == "aten::mm" && in.size() >= 2) {
    auto a = SizesOf(in[0]), b = SizesOf(in[1]);
    if (a.size() == 2 && b.size() == 2) return 2.0 * a[0] * a[1] * b[1];
  } else if (name == "aten::addmm" && in.size() >= 3) {
    auto a = SizesOf(in[1]), b = SizesOf(in[2]);
    if (a.size() == 2 && b.size() == 2) return 2.0 * a[0] * a[1] * b[1];
  } else if (name == "aten::bmm" && in.size() >= 2) {
    auto a = SizesOf(in[0]), b = SizesOf(in[1]);
    if (a.size() == 3 && b.size() == 3) return 2.0 * a[0] * a[1] * a[2] * b[2];
  } else if (name == "aten::baddbmm" && in.size() >= 3) {
    auto a = SizesOf(in[1]), b = SizesOf(in[2]);
    if (a.size() == 3 && b.size() == 3) return 2.0 * a[0] * a[1] * a[2] * b[2];
  } else if ((name == "tvs::attention" || name == "tvs::attention_backward") && in.size() >= 2) {
    // (q [B, S, D], k [B, T, D], heads): q kᵀ and p v forward, four such products backward.
    auto q = SizesOf(in[0]), k = SizesOf(in[1]);
    if (q.size() == 3 && k.size() == 3) return (name == "tvs::attention" ? 4.0 : 8.0) * q[0] * q[1] * k[1] * q[2];
  } else if (name == "aten::convolution" && in.size() >= 9) {
    // (input, weight, bias, stride, padding, dilation, transposed, output_padding, groups)
    auto x = SizesOf(in[0]), w = SizesOf(in[1]);
    auto stride = IntsOf(in[3]), pad = IntsOf(in[4]), dil = IntsOf(in[5]);
    if (x.size() < 3 || w.size() != x.size() || !in[6].isBool() || !in[8].isInt()) return 0;
    const size_t nd = x.size() - 2;
    // Transposed: weight [Cin, Cout / groups, k...], every input element meets Cout / groups x k taps.
    if (in[6].toBool()) return 2.0 * prod(x, 0) * static_cast<double>(w[1]) * prod(w, 2);
    if (stride.size() != nd || pad.size() != nd || dil.size() != nd) return 0;
    double out = static_cast<double>(x[0]) * static_cast<double>(w[0]);
    for (size_t d = 0; d < nd; d++) out *= static_cast<double>((x[2 + d] + 2 * pad[d] - dil[d] * (w[2 + d] - 1) - 1) / stride[d] + 1);
    return 2.0 * out * static_cast<double>(w[1]) * prod(w, 2);
  }
  return 0;
}

std::unique_ptr<at::ObserverContext> OnStart(const at::RecordFunction& fn) {
  auto& p = P();
  if (!p.on || std::this_thread::get_id() != p.thread) return nullptr;
  p.stack.push_back({NowNs(), 0, 0.0});
  try {
    p.stack.back().flops = FlopsOf(fn);
  } catch (...) {
    // an op without recorded inputs: its FLOPs stay unknown (0)
  }
  return nullptr;
}

void OnEnd(const at::RecordFunction& fn, at::ObserverContext*) {
  auto& p = P();
  if (!p.on || std::this_thread::get_id() != p.thread || p.stack.empty()) return;
  Frame f = p.stack.back();
  p.stack.pop_back();
  const int64_t total = NowNs() - f.start;
  auto& s = p.ops[fn.name()];
  s.calls++;
  s.totalNs += total;
  s.selfNs += total - f.childNs;
  s.flops += f.flops;
  s.backward = fn.scope() == at::RecordScope::BACKWARD_FUNCTION;
  if (p.stack.empty()) p.topNs += total;
  else p.stack.back().childNs += total;
}

Napi::Object Snapshot(Napi::Env env, bool reset) {
  auto& p = P();
  auto o = Napi::Object::New(env);
  auto ops = Napi::Object::New(env);
  for (auto& [name, s] : p.ops) {
    auto r = Napi::Object::New(env);
    r.Set("calls", static_cast<double>(s.calls));
    r.Set("selfMs", static_cast<double>(s.selfNs) / 1e6);
    r.Set("totalMs", static_cast<double>(s.totalNs) / 1e6);
    r.Set("flops", s.flops);
    r.Set("backward", s.backward);
    ops.Set(name, r);
  }
  o.Set("ops", ops);
  o.Set("topMs", static_cast<double>(p.topNs) / 1e6);
  if (reset) {
    p.ops.clear();
    p.topNs = 0;
  }
  return o;
}

}  // namespace

// profilerStart(): starts counting on this thread (again from zero if it was running).
TVS_FN(profilerStart) {
  TVS_PROTECT("profilerStart", {
    auto& p = P();
    if (!p.on) {
      p.handle = at::addThreadLocalCallback(at::RecordFunctionCallback(&OnStart, &OnEnd).needsInputs(true));
      p.thread = std::this_thread::get_id();
      p.on = true;
    }
    p.ops.clear();
    p.stack.clear();
    p.topNs = 0;
    return info.Env().Undefined();
  })
  return info.Env().Undefined();
}

// profilerTake() -> { ops: { name: { calls, selfMs, totalMs, flops, backward } }, topMs } since
// the last take (or the start), and counts afresh.
TVS_FN(profilerTake) {
  TVS_PROTECT("profilerTake", {
    if (!P().on) throw ArgError("the profiler is not running (profilerStart first)");
    return Snapshot(info.Env(), true);
  })
  return info.Env().Undefined();
}

// profilerStop(): removes the observer; what was counted since the last take is dropped.
TVS_FN(profilerStop) {
  TVS_PROTECT("profilerStop", {
    auto& p = P();
    if (p.on) at::removeCallback(p.handle);
    p.on = false;
    p.ops.clear();
    p.stack.clear();
    p.topNs = 0;
    return info.Env().Undefined();
  })
  return info.Env().Undefined();
}

void InitProfile(Napi::Env env, Napi::Object exports) {
  TVS_EXPORT(profilerStart); TVS_EXPORT(profilerTake); TVS_EXPORT(profilerStop);
}

}  // namespace tvs
