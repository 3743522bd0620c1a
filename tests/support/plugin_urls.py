"""A URLconf for gate tests: the real one plus plugin views that echo, fail and raise."""

from django.urls import include, path
from rest_framework.response import Response

from config.urls import urlpatterns as real_patterns
from kakaoplugin.envelope import PluginError, success_body
from kakaoplugin.views import PluginAPIView, require


class Echo(PluginAPIView):
    def post(self, request, plugin_key):
        body = self.body()
        require(body, "name")
        return Response(
            success_body(
                {
                    "body": body,
                    "app": self.kakao_app.name,
                    "app_user_id": self.kakao.app_user_id,
                    "relay_id": self.kakao.relay_id,
                }
            )
        )


class Refuse(PluginAPIView):
    def get(self, request, plugin_key):
        raise PluginError(301, "영업시간이 아닙니다")


class Boom(PluginAPIView):
    def get(self, request, plugin_key):
        raise RuntimeError("kaboom")


def plain_boom(request, plugin_key):
    raise ValueError("plain django view failed")


test_patterns = [
    path("echo", Echo.as_view()),
    path("refuse", Refuse.as_view()),
    path("boom", Boom.as_view()),
    path("plain-boom", plain_boom),
]

urlpatterns = [path("plugin/<str:plugin_key>/", include(test_patterns)), *real_patterns]
