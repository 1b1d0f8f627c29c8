// All of kiln's layers in one include (the Module base and every basic layer).
#pragma once
#include "layers/activation.h"
#include "layers/attention.h"
#include "layers/conv.h"
#include "layers/dropout.h"
#include "layers/embedding.h"
#include "layers/flatten.h"
#include "layers/linear.h"
#include "layers/module.h"
#include "layers/norm.h"
#include "layers/pool.h"
#include "layers/rnn.h"
#include "layers/sequential.h"
