namespace MeowRobot.Bridge.Zmq;

/// <summary>ZeroMQ socket types (zmq.h values).</summary>
public enum ZmqSocketType
{
    Pair = 0,
    Pub = 1,
    Sub = 2,
    Req = 3,
    Rep = 4,
    Dealer = 5,
    Router = 6,
    Pull = 7,
    Push = 8,
    XPub = 9,
    XSub = 10,
}

/// <summary>zmq_poll event bits.</summary>
[Flags]
public enum ZmqPollEvents : short
{
    None = 0,
    In = 1,
    Out = 2,
    Error = 4,
}
