namespace MeowRobot.Bridge.Zmq;

/// <summary>zmq.h socket option numbers (libzmq 4.3).</summary>
internal static class ZmqOption
{
    public const int RoutingId = 5;
    public const int Subscribe = 6;
    public const int Unsubscribe = 7;
    public const int RcvMore = 13;
    public const int Linger = 17;
    public const int ReconnectIvl = 18;
    public const int ReconnectIvlMax = 21;
    public const int MaxMsgSize = 22;
    public const int SndHwm = 23;
    public const int RcvHwm = 24;
    public const int RcvTimeo = 27;
    public const int SndTimeo = 28;
    public const int LastEndpoint = 32;
    public const int RouterMandatory = 33;
    public const int TcpKeepalive = 34;
    public const int TcpKeepaliveCnt = 35;
    public const int TcpKeepaliveIdle = 36;
    public const int TcpKeepaliveIntvl = 37;
    public const int Immediate = 39;
    public const int CurveServer = 47;
    public const int CurvePublicKey = 48;
    public const int CurveSecretKey = 49;
    public const int CurveServerKey = 50;
    public const int Conflate = 54;
    public const int ZapDomain = 55;
    public const int HandshakeIvl = 66;
    public const int HeartbeatIvl = 75;
    public const int HeartbeatTtl = 76;
    public const int HeartbeatTimeout = 77;
    public const int ZapEnforceDomain = 93;
}
