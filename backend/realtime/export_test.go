package realtime

// RelaysDropped is the number of newTweet events from clients that were not relayed because
// their connection had relayed one less than a second before.
func (s *Server) RelaysDropped() int64 { return s.relaysDropped.Load() }
