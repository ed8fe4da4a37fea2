// Package engine is the Engine.IO 3 layer beneath Chirp's socket.io server (package realtime):
// its own polling and websocket transports for go-socket.io's engine, the checks they apply to
// what clients send, the count of open sessions that a handshake takes a place in, the JSON
// form of the library's error answers, and OutPacket, a message encoded once for every
// connection it goes to.
//
// What realtime uses: NewPolling and NewWebsocket (given the socket.io packet check as
// CheckMessage), Sessions and WithSlot (the admission of handshakes), JSONErrors (around the
// library's ServeHTTP), and NewMessage and Send (broadcasts beneath the library's emit).
package engine
