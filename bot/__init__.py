"""kafkaops.bot"""
