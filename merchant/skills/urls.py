"""Chatbot skill URLs, mounted at /skill/ by the project's root URLconf."""

from django.urls import path

from .views import skill

urlpatterns = [path("<str:skill_key>/<str:name>", skill, name="chatbot-skill")]
