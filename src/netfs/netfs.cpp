// netfs.cpp - placeholder translation unit until the layer's first module lands.
