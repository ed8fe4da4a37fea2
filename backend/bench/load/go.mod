module github.com/chirp-social/chirp/backend/bench/load

go 1.26.8

require github.com/gorilla/websocket v1.4.2
