package media

// Transport names the way a viewer receives frames. It labels hub
// subscriptions, viewer and drop counts and metric series.
type Transport string

const (
	TransportWebSocket Transport = "websocket"
	TransportMJPEG     Transport = "mjpeg"
	TransportSnapshot  Transport = "snapshot"
)

// Transports lists every transport, in a fixed order.
func Transports() []Transport {
	return []Transport{TransportWebSocket, TransportMJPEG, TransportSnapshot}
}
