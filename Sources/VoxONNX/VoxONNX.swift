// VoxONNX
