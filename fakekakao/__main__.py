"""python -m fakekakao [--host 127.0.0.1] [--port 8701]"""

import argparse
import time

from .server import FakeKakaoServer


def main() -> None:
    parser = argparse.ArgumentParser(description="Fake Kakao / KakaoPay server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8701)
    args = parser.parse_args()
    server = FakeKakaoServer(args.host, args.port).start()
    print(f"fake Kakao/KakaoPay listening on {server.url}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
