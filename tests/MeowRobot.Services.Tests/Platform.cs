using System.Runtime.Versioning;

// Services, their units and their install script are Linux-only (sd_notify, systemd, POSIX modes).
[assembly: SupportedOSPlatform("linux")]
