// VoxServer
