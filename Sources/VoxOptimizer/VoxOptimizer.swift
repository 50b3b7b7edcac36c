// VoxOptimizer
