module github.com/tentacle-ts/interop/go-yamux-peer

go 1.22

require github.com/hashicorp/yamux v0.1.2
