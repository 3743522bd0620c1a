"""Kakao i Open Builder skills: the merchant's chatbot sells from the chat with no code of its own.

``/skill/<skill_key>/<name>`` (names in :data:`merchant.skills.answers.SKILLS`), answered in Open
Builder's skill response format (``response.py``). See README "Chatbot skills".
"""
