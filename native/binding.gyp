{
  "targets": [
    {
      "target_name": "tunevlseg_native",
      "sources": [
        "src/addon.cc",
        "src/tensor.cc",
        "src/ops_math.cc",
        "src/ops_nn.cc",
        "src/ops_shape.cc",
        "src/serialize.cc",
        "src/amp.cc",
        "src/profile.cc",
        "src/fused.cc",
        "src/fused_kernels.cc",
        "src/optim.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!@(node find-libtorch.cjs --include)"
      ],
      "libraries": [
        "<!@(node find-libtorch.cjs --libs)"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_CPP_EXCEPTIONS",
        "NODE_ADDON_API_DISABLE_DEPRECATED",
        "NDEBUG",
        "<!@(node find-libtorch.cjs --defines)",
        "_GLIBCXX_USE_CXX11_ABI=<!(node find-libtorch.cjs --abi)"
      ],
      "cflags!": [
        "-fno-exceptions",
        "-fno-rtti"
      ],
      "cflags_cc!": [
        "-fno-exceptions",
        "-fno-rtti",
        "-std=gnu++14",
        "-std=gnu++17"
      ],
      "cflags_cc": [
        "-std=c++17",
        "-fexceptions",
        "-frtti",
        "-O2",
        "-fno-math-errno",
        "-fopenmp",
        "-Wno-unused-parameter",
        "-Wno-deprecated-declarations"
      ],
      "ldflags": [
        "-fopenmp"
      ]
    },
    {
      "target_name": "tunevlseg_image",
      "sources": [
        "src/image/addon.cc",
        "src/image/cubic_resize.cc",
        "src/image/jpeg_decode.c"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")"
      ],
      "libraries": [
        "-ljpeg"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_CPP_EXCEPTIONS",
        "NODE_ADDON_API_DISABLE_DEPRECATED"
      ],
      "cflags!": [
        "-fno-exceptions"
      ],
      "cflags": [
        "-O2",
        "-ffp-contract=off"
      ],
      "cflags_cc!": [
        "-fno-exceptions",
        "-std=gnu++14",
        "-std=gnu++17"
      ],
      "cflags_cc": [
        "-std=c++17",
        "-fexceptions",
        "-O2",
        "-ffp-contract=off"
      ]
    }
  ]
}
