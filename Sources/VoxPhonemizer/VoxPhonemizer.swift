// VoxPhonemizer
