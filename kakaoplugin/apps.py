from django.apps import AppConfig


class KakaopluginConfig(AppConfig):
    name = "kakaoplugin"
    verbose_name = "Kakao apps and members"
