// Reading PyTorch pickles / TorchScript archives, for the explicit `tunevlseg convert` step
// only (everything else reads safetensors, which cannot execute code).
#include "common.h"

#include <torch/csrc/jit/serialization/import.h>
#include <torch/csrc/jit/serialization/pickle.h>
#include <fstream>
#include <iterator>

namespace tvs {

static void Flatten(const c10::IValue& v, const std::string& prefix, std::vector<std::pair<std::string, at::Tensor>>& out) {
  if (v.isTensor()) {
    out.emplace_back(prefix, v.toTensor());
  } else if (v.isGenericDict()) {
    for (const auto& kv : v.toGenericDict()) {
      std::string key = kv.key().isString() ? kv.key().toStringRef() : kv.key().isInt() ? std::to_string(kv.key().toInt()) : "?";
      Flatten(kv.value(), prefix.empty() ? key : prefix + "." + key, out);
    }
  } else if (v.isList() || v.isTuple()) {
    auto elems = v.isList() ? v.toListRef().vec() : v.toTupleRef().elements().vec();
    for (size_t i = 0; i < elems.size(); i++) Flatten(elems[i], prefix.empty() ? std::to_string(i) : prefix + "." + std::to_string(i), out);
  }
}

// loadPickledTensors(path) -> { names: string[], tensors: Tensor[] }: tries a TorchScript
// module (named parameters and buffers) and then a zip pickle (torch.save) of nested dicts.
TVS_FN(loadPickledTensors) {
  auto env = info.Env();
  TVS_PROTECT("loadPickledTensors", {
    std::string path = Str(info, 0);
    std::vector<std::pair<std::string, at::Tensor>> items;
    std::string scriptErr;
    try {
      auto m = torch::jit::load(path, at::kCPU);
      for (const auto& p : m.named_parameters(true)) items.emplace_back(p.name, p.value);
      for (const auto& b : m.named_buffers(true)) items.emplace_back(b.name, b.value);
    } catch (const c10::Error& e) {
      scriptErr = CleanMessage(e);
    }
    if (items.empty()) {
      std::ifstream f(path, std::ios::binary);
      if (!f) throw ArgError("cannot open " + path);
      std::vector<char> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
      c10::IValue v;
      try {
        v = torch::jit::pickle_load(bytes);
      } catch (const c10::Error& e) {
        throw ArgError(path + ": neither a TorchScript archive (" + scriptErr + ") nor a torch.save zip pickle (" + CleanMessage(e) + ")");
      }
      Flatten(v, "", items);
    }
    auto names = Napi::Array::New(env, items.size());
    auto ts = Napi::Array::New(env, items.size());
    for (size_t i = 0; i < items.size(); i++) {
      names.Set(i, items[i].first);
      ts.Set(i, Wrap(env, items[i].second.detach()));
    }
    auto o = Napi::Object::New(env);
    o.Set("names", names);
    o.Set("tensors", ts);
    return o;
  })
  return env.Undefined();
}

// saveTensorsPickle(path, names, tensors): writes a dict with torch::pickle_save (for tests
// of the convert step: `torch.load` reads it too).
TVS_FN(saveTensorsPickle) {
  auto env = info.Env();
  TVS_PROTECT("saveTensorsPickle", {
    std::string path = Str(info, 0);
    if (!info[1].IsArray()) throw ArgError("argument 1 must be an array of names");
    auto names = info[1].As<Napi::Array>();
    auto ts = TList(info, 2);
    if (names.Length() != ts.size()) throw ArgError("names and tensors differ in length");
    c10::Dict<std::string, at::Tensor> d;
    for (uint32_t i = 0; i < names.Length(); i++) d.insert(names.Get(i).As<Napi::String>().Utf8Value(), ts[i]);
    auto bytes = torch::jit::pickle_save(c10::IValue(d));
    std::ofstream f(path, std::ios::binary);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!f) throw ArgError("cannot write " + path);
    return env.Undefined();
  })
  return env.Undefined();
}

void InitSerialize(Napi::Env env, Napi::Object exports) {
  TVS_EXPORT(loadPickledTensors);
  TVS_EXPORT(saveTensorsPickle);
}

}  // namespace tvs
